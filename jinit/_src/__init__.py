"""Private implementation of jinit. Import the public names from :mod:`jinit`."""
