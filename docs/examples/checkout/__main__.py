"""``python -m docs.examples.checkout``: the example shop and the sandbox, until Ctrl-C."""

from __future__ import annotations

import argparse
import time

from .shop import running_shop


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m docs.examples.checkout", description=__doc__)
    parser.add_argument("--port", type=int, default=8000, help="the shop over HTTP (8000)")
    parser.add_argument("--tls-port", type=int, default=8443, help="the shop over HTTPS (8443)")
    args = parser.parse_args()
    with running_shop(args.port, args.tls_port) as shop:
        print(f"Example shop:  {shop.url}/")
        if shop.secure_url:
            print(f"  over HTTPS:  {shop.secure_url}/ (self-signed; customers return here)")
        else:
            print("  no openssl command: no HTTPS, so KakaoPay Singapore (Omise) is refused")
        print(f"Sandbox:       {shop.sandbox.base_url}/_sandbox")
        print("Ctrl-C stops both.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print()


if __name__ == "__main__":
    main()
