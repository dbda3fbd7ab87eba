"""Who to credit for the data an answer holds, and under which licence: one list for every
resource (TileJSON, listings, OGC API documents, statistics).

The devices are Vigie's contributors' (DEVICES_ATTRIBUTION, DEVICES_LICENCE); devices imported
from OpenStreetMap are OpenStreetMap's contributors', under the ODbL, which asks that they be
credited wherever the data is shown or published; districts carry their official source's
credit (the datasets table); declared lists of sites their publisher's (declared_datasets).
"""

import unicodedata

from flask import Response, current_app, request
from markupsafe import escape
from sqlalchemy import Select

from ..db import CompiledRead, session
from ..geo.declared.features import select_declared_credits
from ..geo.osm import select_has_openstreetmap_devices
from .geojson import link

ODBL = "ODbL 1.0"
ODBL_URL = "https://opendatacommons.org/licenses/odbl/1-0/"
OPENSTREETMAP = {
    "name": "openstreetmap",
    "attribution": "© OpenStreetMap contributors",
    "licence": ODBL,
    "source_url": "https://www.openstreetmap.org/copyright",
}
# Where the text of a licence is, by the names operators and datasets give them.
LICENCE_URLS = {
    ODBL: ODBL_URL,
    "ODbL": ODBL_URL,
    "ODbL-1.0": ODBL_URL,
    "Licence Ouverte 2.0": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
    # As the catalogue (geodata/catalogue.toml) names it.
    "Licence Ouverte / Etalab 2.0": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
    "Etalab-2.0": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC BY 4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
}


def contributors_credit() -> dict:
    config = current_app.config
    return {
        "name": "devices",
        "attribution": config["DEVICES_ATTRIBUTION"],
        "licence": config["DEVICES_LICENCE"],
        "source_url": request.host_url.rstrip("/") + "/api/v1/devices",
    }


# Asked by every listing, tile and document: prepared once per connection, and run outside the
# request's session (planning it again each time cost more than the listing's own Python).
HAS_OPENSTREETMAP_DEVICES = CompiledRead(select_has_openstreetmap_devices())


def openstreetmap_credits(from_openstreetmap: bool | None = None) -> list[dict]:
    """OpenStreetMap's credit when a public device came from it, else nothing.

    FROM_OPENSTREETMAP is the answer when a page's statement gave it (FeaturePage), else it
    is asked here.
    """
    if from_openstreetmap is None:
        from_openstreetmap = HAS_OPENSTREETMAP_DEVICES.one_or_none()[0]
    return [OPENSTREETMAP] if from_openstreetmap else []


def device_credits(from_openstreetmap: bool | None = None) -> list[dict]:
    """The credits of the public devices: contributors, and OpenStreetMap's if imported."""
    return [contributors_credit(), *openstreetmap_credits(from_openstreetmap)]


def dataset_credits(statement: Select) -> list[dict]:
    """The credits STATEMENT selects (name, attribution, licence, source_url per dataset)."""
    return [dict(row._mapping) for row in session.execute(statement)]


def declared_credits(dataset: str | None = None) -> list[dict]:
    """The credit of every declared list (or of DATASET's), each with its own licence."""
    return dataset_credits(select_declared_credits(dataset))


def declared_site_credits(dataset: str | None = None) -> list[dict]:
    """The credits of declared sites: the lists', and the devices' found at them."""
    return [*declared_credits(dataset), *device_credits()]


def licence_url(credit: dict) -> str | None:
    licence = credit.get("licence")
    if licence is None:
        return None
    if licence.startswith(("http://", "https://")):
        return licence
    return LICENCE_URLS.get(licence) or LICENCE_URLS.get(licence.replace(" ", "-"))


def licence_links(credits: list[dict]) -> list[dict]:
    """A `license` link per credit (RFC 4946): the licence's text, titled with the credit;
    one per licence and title (two datasets of one source are credited once)."""
    links = {}
    for credit in credits:
        href = licence_url(credit) or credit.get("source_url")
        if href:
            title = f"{credit['attribution']} ({credit.get('licence') or 'see source'})"
            links[href, title] = link(href, "license", "text/html", title)
    return list(links.values())


def attribution_text(credits: list[dict]) -> str:
    """One line naming every source and its licence, each once."""
    return "; ".join(
        dict.fromkeys(
            f"{c['attribution']} ({c['licence']})" if c.get("licence") else c["attribution"]
            for c in credits
        )
    )


def attribution_html(credits: list[dict]) -> str:
    """The same line with links, as TileJSON and map libraries show it."""
    parts = []
    for credit in credits:
        href = credit.get("source_url") or licence_url(credit)
        name = escape(credit["attribution"])
        part = f'<a href="{escape(href)}">{name}</a>' if href else name
        if credit.get("licence"):
            licence = escape(credit["licence"])
            url = licence_url(credit)
            part += f' (<a href="{escape(url)}">{licence}</a>)' if url else f" ({licence})"
        parts.append(part)
    return " | ".join(parts)


def ascii_text(text: str) -> str:
    """HTTP header values are Latin-1 at best: keep their ASCII shape (accents and dashes)."""
    text = text.replace("\u2013", "-").replace("\u2014", "-").replace("\u00a9", "(c)")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def credit_lines(credits: list[dict]) -> dict[str, str]:
    """The sources' names, and their licences, each once: two lines, as headers and a file's
    metadata give them."""
    names = dict.fromkeys(c["attribution"] for c in credits if c.get("attribution"))
    licences = sorted({c["licence"] for c in credits if c.get("licence")})
    return {"attribution": "; ".join(names), "licence": "; ".join(licences)}


def with_credit_headers(response: Response, credits: list[dict]) -> Response:
    """RESPONSE naming its sources in `X-Attribution` and `X-Licence`, with a `Link:
    rel="license"` per licence, for clients that read no body (CSV, tiles)."""
    lines = credit_lines(credits)
    response.headers["X-Attribution"] = ascii_text(lines["attribution"])
    response.headers["X-Licence"] = ascii_text(lines["licence"])
    for href in dict.fromkeys(licence["href"] for licence in licence_links(credits)):
        response.headers.add("Link", f'<{href}>; rel="license"')
    return response
