"""`flask cache ...`: the Varnish configuration of a cache in front of the app nodes, and a purge
by hand (after a bulk import, for instance)."""

from pathlib import Path

import click
from flask import current_app

from .caching import EVERYTHING, purger
from .commands import CommandGroup

VCL_TEMPLATE = Path(__file__).parent / "templates" / "varnish.vcl"

cache_cli = CommandGroup("cache", help="The HTTP cache in front of the app nodes.")


def backend_definition(name: str, address: str, host: str | None = None) -> str:
    """A VCL backend for HOST:PORT, or for a unix socket path (starting with /); its requests
    and health probes name HOST, when given (a node with TRUSTED_HOSTS refuses other names)."""
    if address.startswith("/"):
        target = f'.path = "{address}";'
    else:
        node, _, port = address.rpartition(":")
        if not node or not port.isdigit():
            raise click.BadParameter(f"{address!r} is neither HOST:PORT nor /path/of/socket")
        target = f'.host = "{node}"; .port = "{port}";'
    if host:
        target += f' .host_header = "{host}";'
    # The app answers /api/v1/health; a node that does not is left out until it does.
    probe = (
        '.probe = { .url = "/api/v1/health"; .interval = 2s; .timeout = 1s; '
        ".window = 3; .threshold = 2; .initial = 2; }"
    )
    return f"backend {name} {{ {target} {probe} }}"


def varnish_vcl(backends: list[str], purgers: list[str], host: str | None = None) -> str:
    """The VCL of a Varnish balancing BACKENDS, taking PURGE requests from PURGERS (addresses),
    its requests to them naming HOST when given."""
    names = [f"node{index}" for index in range(1, len(backends) + 1)]
    definitions = (backend_definition(n, a, host) for n, a in zip(names, backends, strict=True))
    return VCL_TEMPLATE.read_text().format(
        backends="\n".join(definitions),
        purgers="\n".join(f'    "{address}";' for address in purgers),
        nodes="\n".join(f"    nodes.add_backend({name});" for name in names),
        by_client="\n".join(f"    by_client.add_backend({name}, 1.0);" for name in names),
    )


@cache_cli.command("vcl")
@click.option("--backend", "backends", multiple=True, required=True, help="HOST:PORT or socket")
@click.option("--purger", "purgers", multiple=True, default=["127.0.0.1", "::1"], show_default=True)
@click.option(
    "--host",
    default=None,
    help="Host name the cache's requests and health probes give the nodes (default: the first "
    "of TRUSTED_HOSTS, when set).",
)
def print_vcl(backends, purgers, host):
    """Print the Varnish configuration (VCL) for these app nodes."""
    host = host or next(iter(current_app.config["TRUSTED_HOSTS"] or []), None)
    click.echo(varnish_vcl(list(backends), list(purgers), host), nl=False)


@cache_cli.command("purge")
@click.argument("keys", nargs=-1)
def purge_keys(keys):
    """Purge answers tagged with KEYS (default: every answer) from the caches of CACHE_PURGE_URL."""
    caches = purger()
    if caches is None:
        raise click.ClickException("CACHE_PURGE_URL names no cache")
    keys = list(keys) or [EVERYTHING]
    caches.submit(keys).wait()
    if caches.failed:
        raise click.ClickException("a cache did not take the purge (see the log above)")
    click.echo(f"purged {' '.join(keys)} at {', '.join(caches.urls)}")
