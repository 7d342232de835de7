"""`python -m sendlens`, the same as the `sendlens` command."""

from sendlens.launch import main

if __name__ == "__main__":
    main()
