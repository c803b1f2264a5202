from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's hashed, compressed files, with `import ... from "./x.js"`
    in the page's ES modules rewritten to the hashed names too: otherwise a
    deploy could pair a new draw.js with a cached old ink.js."""

    support_js_module_import_aggregation = True
