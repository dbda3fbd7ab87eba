"""What the reverse proxies in front of Vigie tell of a request: the client's address and scheme."""

from werkzeug.middleware.proxy_fix import ProxyFix

SCHEMES = {"http", "https"}


class ForwardedByProxies(ProxyFix):
    """ProxyFix trusting PROXIES hops for X-Forwarded-For (rate limits) and -Proto (absolute
    URLs), never X-Forwarded-Host: a proxy passes the Host header on, which every HTTP cache
    keys its copies by, while a forged X-Forwarded-Host that nginx or Varnish let through
    would have written a stranger's host into links kept for every later reader. A scheme
    other than http or https (`javascript`) is ignored."""

    def __init__(self, app, proxies: int):
        super().__init__(app, x_for=proxies, x_proto=proxies, x_host=0)

    def __call__(self, environ, start_response):
        forwarded = environ.get("HTTP_X_FORWARDED_PROTO")
        if forwarded and {part.strip().lower() for part in forwarded.split(",")} - SCHEMES:
            del environ["HTTP_X_FORWARDED_PROTO"]
        return super().__call__(environ, start_response)
