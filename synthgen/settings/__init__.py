"""Config sections that live beside config.py, so config.py stays small; config imports them."""
