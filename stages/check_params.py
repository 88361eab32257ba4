"""check_params: params.yaml as a whole, read as DVC reads it (YAML 1.2), every top-level name checked: an
unknown one (a misspelt section, say) is refused with a close-match hint. The one stage that depends on
the whole file, so that an edit no other stage reads still meets a check; each section's keys and values
are checked by the stages that read them."""
from lib import config
from lib.errors import run

PARAMS = config.WHOLE_FILE


def main():
    params = config.read()
    print(f"{config.PARAMS_FILE}: {len(params)} known top-level names")


if __name__ == "__main__":
    run(main)
