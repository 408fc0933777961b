"""`images-studio keys | quota | usage`: API keys, spending quotas and the usage ledger from the command line.

    images-studio keys set PROVIDER          the key is read from stdin (never an argument: shell history)
    images-studio keys delete PROVIDER
    images-studio keys status [--json]       where each key comes from; never the key itself
    images-studio quota set PROVIDER [--images-per-day N] [--usd-per-day X] [--usd-per-month X]
                                             PROVIDER "all" (or "*") is the global cap over every provider;
                                             a limit given as "none" is removed, limits not given are kept
    images-studio quota show [--json]
    images-studio usage [--json] [--since YYYY-MM-DD]   default: since the first day of this month

JSON output is one object per line; field names are only ever added.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from desktop.cli import CliError, _print_json, _services

_KEEP = object()  # a limit not given on the command line keeps its current value


def _catalogue() -> Any:
    from providers.catalogue import Catalogue

    return Catalogue.load()


def _key_service() -> Any:
    from desktop.services.keys import KeyService
    from storage.secrets import SecretStore

    return KeyService(SecretStore(), _catalogue())


def _provider(catalogue: Any, provider: str) -> str:
    if provider not in catalogue:
        raise CliError(f"unknown provider {provider!r}; choose one of {', '.join(catalogue.ids())}", 2)
    return provider


# ------------------------------------------------------------------------------------------- keys


def cmd_keys_set(args: argparse.Namespace) -> int:
    keys = _key_service()
    info = keys.catalogue.get(_provider(keys.catalogue, args.provider))
    env_hint = f"set {info.key_env} in the environment instead" if info.key_env else "use the settings dialog"
    if not keys.secrets.available():
        # A session-only key would vanish when this command exits: refuse instead of pretending.
        raise CliError(f"cannot save the key: no usable system keyring ({keys.secrets.backend_name}); "
                       f"a command-line run cannot keep a key for later, so {env_hint}")
    if sys.stdin.isatty():
        sys.stderr.write(f"Paste the {info.name} API key, then press Enter and Ctrl-D:\n")
    key = sys.stdin.read().strip()
    if not key:
        raise CliError("no key on standard input; pipe it in, e.g. `images-studio keys set "
                       f"{args.provider} < keyfile`", 2)
    keys.secrets.set(args.provider, key)
    del key
    status = keys.status_sync(args.provider)
    if status.source != "keychain":
        keys.secrets.delete(args.provider)
        raise CliError(f"the system keyring refused the key ({keys.secrets.reason}); {env_hint}")
    print(f"{info.name} key saved in the system keychain")
    return 0


def cmd_keys_delete(args: argparse.Namespace) -> int:
    keys = _key_service()
    info = keys.catalogue.get(_provider(keys.catalogue, args.provider))
    if not keys.secrets.available():
        raise CliError(f"cannot delete the key: no usable system keyring ({keys.secrets.backend_name})")
    keys.secrets.delete(args.provider)
    status = keys.status_sync(args.provider)
    tail = f"; {info.key_env} is still set in the environment" if status.source == "environment" else ""
    print(f"{info.name} key deleted from the system keychain{tail}")
    return 0


def cmd_keys_status(args: argparse.Namespace) -> int:
    keys = _key_service()
    statuses = [keys.status_sync(p) for p in keys.catalogue.ids()]
    if args.json:
        for status in statuses:
            _print_json(status.to_json())
        return 0
    if statuses and not statuses[0].keychain:
        sys.stderr.write(f"note: no usable system keyring ({keys.secrets.backend_name}): keys can only come "
                         "from environment variables here\n")
    for s in statuses:
        print(f"{s.provider:<13} {s.source:<12} {s.env_var or '-':<22} {s.described}")
    return 0


# ------------------------------------------------------------------------------------------- quotas


def _limit(kind: type) -> Any:
    def parse(text: str) -> Any:
        if text.strip().lower() in ("none", "off", "unlimited"):
            return None
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number or 'none', not {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError("a limit cannot be negative")
        return value

    return parse


def cmd_quota_set(args: argparse.Namespace) -> int:
    from desktop.services.money import MoneyService
    from storage import quotas as q

    services = _services(args)
    try:
        money = MoneyService(services.db, services.catalogue, services.library.library)
        provider = q.GLOBAL if args.provider in ("all", q.GLOBAL) else _provider(services.catalogue, args.provider)
        given = {"images_per_day": args.images_per_day, "usd_per_day": args.usd_per_day,
                 "usd_per_month": args.usd_per_month}
        if all(v is _KEEP for v in given.values()):
            raise CliError("give at least one of --images-per-day, --usd-per-day, --usd-per-month", 2)
        current = q.quotas(services.db).get(provider, q.QuotaLimits(provider)).to_json()
        merged = {k: current[k] if v is _KEEP else v for k, v in given.items()}
        try:
            limits = money.set_quota(provider, **merged)
        except ValueError as exc:
            raise CliError(str(exc), 2) from None
        shown = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in limits.to_json().items()
                          if k != "provider" and v is not None) or "no limits"
        print(f"{money.label(provider)}: {shown}")
        return 0
    finally:
        services.close()


def cmd_quota_show(args: argparse.Namespace) -> int:
    from desktop.services.money import MoneyService

    services = _services(args)
    try:
        views = MoneyService(services.db, services.catalogue, services.library.library).quota_views()
        for view in views:
            if args.json:
                _print_json(view.to_json())
                continue
            lim, used = view.limits, view.used

            def part(value: float, limit: float | None, money: bool) -> str:
                shown = f"${value:.2f}" if money else f"{int(value)}"
                return shown + (f" / {'$' if money else ''}{limit:.2f}" if money and limit is not None
                                else f" / {limit}" if limit is not None else " (no limit)")

            print(f"{view.label}\n"
                  f"  images today  {part(used['images_today'], lim.images_per_day, False)}\n"
                  f"  spend today   {part(used['usd_today'], lim.usd_per_day, True)}\n"
                  f"  spend month   {part(used['usd_month'], lim.usd_per_month, True)}")
        return 0
    finally:
        services.close()


# ------------------------------------------------------------------------------------------- usage


def cmd_usage(args: argparse.Namespace) -> int:
    from storage import quotas as q

    try:
        since = q.since_day(args.since) if args.since else q.month_start(time.time())
    except ValueError as exc:
        raise CliError(str(exc), 2) from None
    services = _services(args)
    try:
        rows = q.usage_rows(services.db, since)
        if args.json:
            for row in rows:
                _print_json(row.to_json())
            return 0
        for row in rows:
            cost = f"${row.cost_usd:.4f}" + ("" if row.reported_usd is not None else "*")
            print(f"{row.to_json()['created']}  {row.provider:<12} {row.model[:24]:<24} {row.status:<9} "
                  f"{row.images:>3} img  {cost:>10}  {row.latency_ms if row.latency_ms is not None else '-':>6} ms")
        total = q.summarize(rows, ())
        t = total[0] if total else q.UsageTotal(())
        print(f"total: {t.requests} request(s), {t.images} image(s), ${t.usd:.4f}, {t.failed} failed or cancelled "
              f"(since {time.strftime('%Y-%m-%d', time.localtime(since))}; * = estimated)")
        for p in q.summarize(rows, ("provider",)):
            print(f"  {p.key[0]:<12} {p.requests:>4} request(s) {p.images:>5} image(s)  ${p.usd:.4f}")
        return 0
    finally:
        services.close()


# ------------------------------------------------------------------------------------------- parser


def register(sub: argparse._SubParsersAction) -> None:
    keys = sub.add_parser("keys", help="API keys in the system keychain")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    p = keys_sub.add_parser("set", help="save a provider's API key (read from standard input)")
    p.add_argument("provider")
    p.set_defaults(func=cmd_keys_set)
    p = keys_sub.add_parser("delete", help="remove a provider's API key from the keychain")
    p.add_argument("provider")
    p.set_defaults(func=cmd_keys_delete)
    p = keys_sub.add_parser("status", help="where each provider's key comes from (never the key)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_keys_status)

    quota = sub.add_parser("quota", help="spending and image quotas")
    quota_sub = quota.add_subparsers(dest="quota_command", required=True)
    p = quota_sub.add_parser("set", help="set a provider's quotas; PROVIDER 'all' is the global cap",
                             description="Limits not given are kept; give 'none' to remove one.")
    p.add_argument("provider", help="provider id, or 'all' / '*' for the global cap over every provider")
    p.add_argument("--images-per-day", type=_limit(int), default=_KEEP)
    p.add_argument("--usd-per-day", type=_limit(float), default=_KEEP)
    p.add_argument("--usd-per-month", type=_limit(float), default=_KEEP)
    p.set_defaults(func=cmd_quota_set)
    p = quota_sub.add_parser("show", help="quotas and what has been used today / this month")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_quota_show)

    p = sub.add_parser("usage", help="the usage ledger: one row per provider request")
    p.add_argument("--json", action="store_true")
    p.add_argument("--since", help="YYYY-MM-DD (default: the first day of this month)")
    p.set_defaults(func=cmd_usage)
