"""libvips, through pyvips, set up for a server that decodes what strangers upload.

libvips itself comes with the `pyvips-binary` package, a build of libvips 8.18 with the web
formats' libraries only: against Debian 12's libvips 8.14 (built with ImageMagick, poppler,
OpenEXR...) it adds 16 MB instead of 39 to each worker, and resizes twice as fast
(docs/performance.md, "Photos through libvips"). Importing this fails with a clear message when
no libvips can be loaded (a platform that package has no build for, and no system libvips).
"""

import logging

try:
    import pyvips
except (ImportError, OSError) as exc:  # pyvips raises OSError when it finds no libvips
    raise ImportError(
        "libvips is missing: photos are processed with libvips, which the pyvips-binary "
        "package brings (`make run` installs it). Where it has no build, install the "
        "system's libvips (Debian: `apt-get install libvips42`)."
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
