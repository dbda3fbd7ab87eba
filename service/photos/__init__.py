"""Photos of devices: decoding and cleaning uploads, and keeping track of what is stored."""
