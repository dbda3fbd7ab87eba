"""libvips, through pyvips, set up for a server that decodes what strangers upload.

Importing this fails with a clear message when the libvips library is missing: it is a system
package (Debian: libvips42), which `make run` and `make test` install when run as root.
"""

import logging

try:
    import pyvips
except (ImportError, OSError) as exc:  # pyvips raises OSError when it finds no libvips
    raise ImportError(
        "libvips is missing: photos are processed with libvips. Install it with "
        "`apt-get install libvips42` (Debian), or run `make run` as root, which installs it."
    ) from exc

# Only the loaders the photo pipeline names are ever called, but should one be reached by
# another way, libvips' loaders not fit for untrusted input (ImageMagick, PDF, SVG, FITS,
# matrix...) are refused.
pyvips.block_untrusted_set(True)
# libvips' own notes on each operation ("reducev: 5 point mask"...) are not the server's news.
logging.getLogger("pyvips").setLevel(logging.WARNING)
# No cache of operations between requests: it would keep decoded uploads in the worker's
# memory for nothing (every upload is new).
pyvips.cache_set_max(0)

__all__ = ["pyvips"]
