/**
 * More pages for the service's web pages, added by the program that starts the service (the
 * command line adds the pictures of the emulated devices, which this layer must not import).
 * Only a service serving the developer pages registers them.
 */
import type { FastifyInstance } from 'fastify';
import type { WebSettings } from './context.js';

/** Registers extra routes on the pages' server (same cookies, CSRF check and headers helpers). */
export type PageExtension = (web: FastifyInstance, settings: WebSettings) => void | Promise<void>;

const extensions = new Set<PageExtension>();

/** Adds pages to every service started after this in the process; returns a function removing them. */
export function addPageExtension(extension: PageExtension): () => void {
  extensions.add(extension);
  return () => {
    extensions.delete(extension);
  };
}

/** The extensions added so far. */
export function pageExtensions(): readonly PageExtension[] {
  return [...extensions];
}
