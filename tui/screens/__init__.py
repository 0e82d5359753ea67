"""Screens: the wizard, and the modal that confirms overwriting a file."""
