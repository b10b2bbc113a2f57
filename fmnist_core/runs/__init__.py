"""Saved runs: paths and ids, the store (atomic, owners), metadata, archive checks, frames, imports, disk caches."""
