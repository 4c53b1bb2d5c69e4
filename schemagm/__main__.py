"""``python -m schemagm ...`` (used by ``torchrun -m schemagm train ...``)."""

from schemagm.cli.entry import main

if __name__ == "__main__":
    main()
