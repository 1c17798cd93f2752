#!/bin/sh
test ! -f /archive/"$2" && cp "$1" /archive/"$2"
