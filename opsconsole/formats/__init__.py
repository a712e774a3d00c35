"""Date formats (``FORMAT_MODULE_PATH``): one way of writing a moment on every page and
in the admin, with its zone, so an operator comparing times never converts."""
