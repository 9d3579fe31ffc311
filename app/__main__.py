"""`python -m app` runs the same command line as the `orgfeed` script."""

from app.cli import main

main()
