"""python-pskc as an independent PSKC peer for the seed file tests.

  pskc_peer.py read FILE [--key HEX | --password PW]   -> JSON list of keys on stdout
  pskc_peer.py write FILE [--key HEX | --password PW --iterations N] [--cipher NAME]
                                                        <- JSON list of keys on stdin
Secrets travel as hex. Exit status 3 with a one-line message when python-pskc refuses a file.
"""

import argparse
import binascii
import json
import sys

import pskc
from pskc.exceptions import PSKCError

FIELDS = ('counter', 'time_offset', 'time_interval', 'time_drift')


def read(args):
    doc = pskc.PSKC(args.file)
    if args.key:
        doc.encryption.key = binascii.unhexlify(args.key)
    elif args.password:
        doc.encryption.derive_key(args.password)
    out = []
    for key in doc.keys:
        item = {
            'serial': key.serial,
            'id': key.id,
            'algorithm': key.algorithm,
            'suite': key.algorithm_suite,
            'digits': key.response_length,
            'encoding': key.response_encoding,
            'manufacturer': key.manufacturer,
            'issuer': key.issuer,
            'secret': binascii.hexlify(key.secret).decode() if key.secret is not None else None,
        }
        for f in FIELDS:
            item[f] = getattr(key, f)
        out.append(item)
    json.dump({'mac': doc.mac.algorithm, 'encryption': doc.encryption.algorithm, 'keys': out}, sys.stdout)


def write(args):
    doc = pskc.PSKC()
    for k in json.load(sys.stdin):
        attrs = {
            'id': k['id'],
            'serial': k['serial'],
            'algorithm': k['algorithm'],
            'secret': binascii.unhexlify(k['secret']),
            'response_length': k['digits'],
            'response_encoding': 'DECIMAL',
        }
        for name in ('manufacturer', 'issuer', 'suite') + FIELDS:
            if k.get(name) is not None:
                attrs['algorithm_suite' if name == 'suite' else name] = k[name]
        doc.add_key(**attrs)
    if args.key:
        doc.encryption.setup_preshared_key(key=binascii.unhexlify(args.key), algorithm=args.cipher)
    elif args.password:
        doc.encryption.setup_pbkdf2(args.password, iterations=args.iterations, algorithm=args.cipher)
    doc.write(args.file)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('mode', choices=('read', 'write'))
    parser.add_argument('file')
    parser.add_argument('--key')
    parser.add_argument('--password')
    parser.add_argument('--iterations', type=int, default=1000)
    parser.add_argument('--cipher', default='aes128-cbc')
    args = parser.parse_args()
    try:
        (read if args.mode == 'read' else write)(args)
    except PSKCError as e:
        print('%s: %s' % (type(e).__name__, e), file=sys.stderr)
        sys.exit(3)


if __name__ == '__main__':
    main()
