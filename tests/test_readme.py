"""The README's two set-up commands are the contract with newcomers and with CI."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_readme_starts_with_exactly_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    assert text.index("```bash") < 40, "the set-up commands must open the README"
    commands = _setup_commands()
    assert len(commands) == 2
    assert "app.py" in commands[0] and "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    assert _setup_commands()[1] in (ROOT / ".ci" / "run").read_text()


def test_spaces_front_matter_names_the_gradio_entry_point() -> None:
    import yaml

    text = (ROOT / "deploy" / "spaces_header.yml").read_text()
    assert text.startswith("---\n") and text.rstrip().endswith("---")
    meta = yaml.safe_load(text.strip().strip("-"))
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py" and (ROOT / meta["app_file"]).is_file()
    assert str(meta["python_version"]).startswith("3.")
