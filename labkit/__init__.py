"""labkit: courseware for MongoDB partial recovery."""
__version__ = "0.1.0"
