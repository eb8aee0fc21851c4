"""The lowest layer: what a variant is (config), where files live (paths), the schema and shared helpers.

Nothing here imports another layer of the package.
"""
