"""Reads every file in a directory with the real env loaders and prints their readings as JSON.

Usage: python env_loaders.py DIR
Output: {"<file name>": {"<loader>": {"KEY": "value", ...}, ...}, ...}

Loaders: python-dotenv's dotenv_values with and without interpolation, and django-environ's
Env.read_env with and without parse_comments (it writes into os.environ, so the environment is
emptied before each read and read back after it).
"""

import json
import os
import sys
import warnings

import environ
from dotenv import dotenv_values

warnings.simplefilter("ignore")


def django_environ(path, parse_comments):
    saved = dict(os.environ)
    os.environ.clear()
    try:
        environ.Env.read_env(path, overwrite=True, parse_comments=parse_comments)
        return dict(os.environ)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main():
    directory = sys.argv[1]
    out = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        readings = {
            "dotenv": dotenv_values(path, interpolate=False),
            "dotenv-interpolate": dotenv_values(path, interpolate=True),
            "django-environ": django_environ(path, False),
            "django-environ-comments": django_environ(path, True),
        }
        out[name] = {
            loader: {k: v for k, v in values.items() if v is not None}
            for loader, values in readings.items()
        }
    json.dump(out, sys.stdout)


main()
