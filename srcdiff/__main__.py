"""`python -m srcdiff cache info|clear`."""
import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["cache"]:
        from srcdiff.cachecli import main
        sys.exit(main(sys.argv[2:]))
    sys.exit("usage: python -m srcdiff cache info|clear")
