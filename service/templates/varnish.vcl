vcl 4.1;
# Varnish in front of Vigie's app nodes (docs/deployment.md), written by `flask cache vcl`.
# Answers are kept as the app says (Cache-Control: s-maxage); the app's Surrogate-Key header
# becomes xkey's secondary hashes (Debian: varnish-modules), and a PURGE from an app node
# carrying Surrogate-Key drops every answer tagged with any of its keys.
import directors;
import xkey;

{backends}

acl purgers {{
{purgers}
}}

sub vcl_init {{
    new nodes = directors.round_robin();
{nodes}
    new by_client = directors.hash();
{by_client}
}}

sub vcl_recv {{
    if (req.method == "PURGE") {{
        # Varnish appends the client's address to X-Forwarded-For before this runs: a comma
        # means a proxy in front (nginx) relayed it, from an address that may be a purger's.
        # Only a purge an app node sends straight counts.
        if (client.ip !~ purgers || req.http.X-Forwarded-For ~ ",") {{
            return (synth(403, "Forbidden"));
        }}
        if (!req.http.Surrogate-Key) {{
            return (synth(400, "Name the keys to purge in Surrogate-Key"));
        }}
        set req.http.X-Purged = xkey.purge(req.http.Surrogate-Key);
        return (synth(200, "Purged " + req.http.X-Purged));
    }}
    # Tokens and cookies are the app's business: the builtin VCL passes such requests.
}}

sub vcl_backend_fetch {{
    if (bereq.url ~ "^/ogc/collections/[^/?]+/download") {{
        # Each node writes its own file of a download, and two nodes' files of the same data
        # may differ (written on either side of midnight, by another GDAL, with other credits):
        # one client's requests go to one node,
        # so that the byte ranges of one read (GDAL's /vsicurl/ sends no If-Range) are of one
        # file. X-Forwarded-For ends with the client's address, which Varnish appended.
        set bereq.backend = by_client.backend(bereq.http.X-Forwarded-For);
    }} else {{
        # Chosen per fetch from a node, not per request: cache hits take no node's turn.
        set bereq.backend = nodes.backend();
    }}
}}

sub vcl_backend_response {{
    if (beresp.http.Surrogate-Key) {{
        set beresp.http.xkey = beresp.http.Surrogate-Key;
    }}
}}

sub vcl_hash {{
    # Links are written in the scheme the proxy in front says the client used: a copy each.
    # The builtin hash (URL and Host) follows.
    hash_data(req.http.X-Forwarded-Proto);
}}

sub vcl_deliver {{
    set resp.http.X-Cache-Hits = obj.hits;
    if (obj.hits > 0) {{
        # The node's count was for the client that first asked, not for this one.
        unset resp.http.X-RateLimit-Limit;
        unset resp.http.X-RateLimit-Remaining;
        unset resp.http.X-RateLimit-Reset;
    }}
    # The keys are for this cache; clients need not see them.
    unset resp.http.xkey;
    unset resp.http.Surrogate-Key;
}}
