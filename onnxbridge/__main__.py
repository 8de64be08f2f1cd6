"""``python -m onnxbridge`` runs the command line."""

from onnxbridge.cli.app import main

if __name__ == "__main__":
    main()
