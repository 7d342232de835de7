"""Streamlit entry point for `streamlit run app.py` / `sendlens app`: see sendlens/app_main.py."""

from sendlens.app_main import main

main()
