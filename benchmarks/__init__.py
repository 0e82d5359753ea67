"""Scripts that print figures (never assert them). Run each as a module from the repository's root,
`.venv/bin/python -m benchmarks.compare --help`, so it imports the tests' servers from tests.support."""
