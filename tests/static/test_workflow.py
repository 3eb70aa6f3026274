"""The GitHub workflow is valid (actionlint) and runs what `make test` runs:
the same suites, each a folder of tests/, which together hold every test.
Every action it uses is pinned by commit, and its caches are keyed on what
fills them. (kind-action's kubectl following versions.env:
tests/static/test_versions.py.)"""

import re
import subprocess

import yaml

from tests.support import ROOT, tool

WORKFLOW = ROOT / ".github/workflows/ci.yaml"
SETUP_ACTION = ROOT / ".github/actions/setup/action.yaml"
MAKEFILE = (ROOT / "Makefile").read_text()


def suites() -> list[str]:
    return re.search(r"^TEST_SUITES := (.+)$", MAKEFILE, re.M).group(1).split()


def workflow_make_targets() -> list[str]:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    targets = []
    for job in jobs.values():
        for step in job["steps"]:
            for line in step.get("run", "").splitlines():
                if line.strip().startswith("make "):
                    targets += line.split()[1:]
    return targets


def test_actionlint_accepts_the_workflows():
    result = subprocess.run([tool("actionlint"), "-no-color"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def beside_builds() -> tuple[str, list[str]]:
    """The suite make test runs with builds beside it, and those builds."""
    step = re.search(r"^test-cluster-beside-builds:\n\t@hack/test-beside\.sh (\S+) (.+)$", MAKEFILE, re.M)
    return step.group(1), step.group(2).split()


def test_make_test_is_the_suites_and_ci_runs_it():
    steps = re.search(r"^test: (.+?) ##", MAKEFILE, re.M).group(1).split()
    suite_beside, _ = beside_builds()
    steps = [suite_beside if step == "test-cluster-beside-builds" else step for step in steps]
    assert steps == ["prepare", *suites()], "make test prepares, then runs TEST_SUITES in their order"
    ci_commands = [line for line in (ROOT / ".ci/run").read_text().splitlines()
                   if line and not line.startswith(("#", "set ", "cd ", "export "))]
    assert ci_commands == ["make test"]


def test_workflow_runs_every_suite_once():
    assert sorted(workflow_make_targets()) == sorted(suites())


def test_each_suite_is_a_folder_and_the_folders_hold_every_test():
    from tests.conftest import SUITES

    recipes = {name: re.search(rf"^{name}:.*\n\t\$\(PYTEST\) (.+)$", MAKEFILE, re.M).group(1).split()
               for name in suites()}
    folders = {name: [arg for arg in args if arg.startswith("tests/")] for name, args in recipes.items()}
    assert folders == {name: [f"tests/{name.removeprefix('test-')}"] for name in suites()}, folders
    assert sorted(name.removeprefix("test-") for name in suites()) == sorted(SUITES)
    homes = {path.relative_to(ROOT / "tests").parts[0] for path in (ROOT / "tests").rglob("test_*.py")}
    assert homes <= set(SUITES), f"test files outside the suites' folders: {sorted(homes - set(SUITES))}"


def prerequisites(target: str) -> set[str]:
    line = re.search(rf"^{target}:([^#\n]*)", MAKEFILE, re.M).group(1)
    return set(line.split())


def needs(*targets: str) -> set[str]:
    """What TARGETS depend on; the cluster itself is created by test-cluster."""
    needed = set().union(*(prerequisites(name) for name in targets))
    if "cluster" in needed:
        needed |= prerequisites("cluster") | {"node-image"}
    return expand(needed - {"cluster"})


def test_prepare_builds_what_every_suite_needs():
    """`make prepare` builds side by side what the suites would otherwise build
    one after another; what only the static suite needs is built beside the
    cluster suite, which runs before it, and none of the suites' targets waits
    for those builds (the cluster suite's last tests make their tools where
    missing, waiting for a build under way)."""
    prepared = expand(re.search(r"^prepare:.*\n\t@\$\(MAKE\) -j\d+ (.+)$", MAKEFILE, re.M).group(1).split())
    suite_beside, built_beside = beside_builds()
    built_beside = expand(built_beside)
    *before, static = suites()
    assert static == "test-static" and suite_beside in before
    missing = needs(*before) - prepared
    assert not missing, f"make prepare does not build {sorted(missing)}"
    missing = needs(static) - prepared - built_beside
    assert not missing, f"neither make prepare nor the builds beside the cluster suite make {sorted(missing)}"
    assert not (built_beside & needs(*before)), "a suite waits for what is built beside the cluster suite"


def expand(words) -> set[str]:
    """Make's words, with the lists of tools ($(TOOLS), $(LATE_TOOLS),
    $(STATIC_TOOLS), $(PREPARED_TOOLS) and the prepared-tools target that
    makes them one after another), the prepared-node target's, and venv's
    share for the scripts written out."""
    def variable(name: str) -> list[str]:
        return re.search(rf"^{name} := (.+)$", MAKEFILE, re.M).group(1).split()

    def made_one_after_another(target: str) -> list[str]:
        return re.search(rf"^{target}:\n\t@MAKEFLAGS=s \$\(MAKE\) (.+)$", MAKEFILE, re.M).group(1).split()

    tools, late, static = variable("TOOLS"), variable("LATE_TOOLS"), variable("STATIC_TOOLS")
    assert variable("PREPARED_TOOLS") == ["$(filter-out", "$(KUBECTL)", "$(LATE_TOOLS)", "$(STATIC_TOOLS),$(TOOLS))"]
    prepared = [tool for tool in tools if tool not in ["$(KUBECTL)", *late, *static]]
    assert made_one_after_another("prepared-tools") == ["$(PREPARED_TOOLS)"]
    assert re.search(r"^\$\(VENV\)/\.installed: .*\$\(VENV\)/\.scripts", MAKEFILE, re.M)
    lists = {"$(TOOLS)": tools, "$(LATE_TOOLS)": late, "$(STATIC_TOOLS)": static, "$(PREPARED_TOOLS)": prepared,
             "prepared-tools": prepared, "prepared-node": made_one_after_another("prepared-node"),
             "venv": ["venv", "venv-scripts"]}
    return {word for listed in words for word in lists.get(listed, [listed])}


# The workflows and the repository's own (composite) actions.
ACTION_FILES = sorted([*(ROOT / ".github/workflows").glob("*.y*ml"),
                       *(ROOT / ".github/actions").glob("*/action.y*ml")])


def steps_of(document: dict) -> list[dict]:
    """The steps of every job of a workflow, or of a composite action."""
    if "runs" in document:
        return document["runs"].get("steps", [])
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


def uses_of(document: dict) -> list[str]:
    """Every `uses:` of a step, and of a job that calls a reusable workflow."""
    steps = [step["uses"] for step in steps_of(document) if "uses" in step]
    return steps + [job["uses"] for job in document.get("jobs", {}).values() if "uses" in job]


def test_actions_are_pinned_by_commit_with_their_version():
    """A tag can be moved to other code; a commit cannot. Each remote action is
    pinned by the full commit of its release, the release named in a comment
    (`uses: owner/repo@<40 hex> # vX.Y.Z`) for readers and for update tools."""
    unpinned = []
    seen = 0
    for path in ACTION_FILES:
        name = path.relative_to(ROOT)
        text = path.read_text()
        parsed = uses_of(yaml.safe_load(text))
        # The text's `uses:` lines, to read their comments; the same list as the
        # parsed one, so none is written in a form this test does not read.
        lines = re.findall(r"^\s*(?:-\s+)?uses:\s*(.*)$", text, re.M)
        written = [re.sub(r"\s+#.*$", "", line).strip().strip("'\"") for line in lines]
        assert written == parsed, f"{name}: the `uses:` lines {written} are not what YAML reads: {parsed}"
        for value, line in zip(parsed, lines, strict=True):
            if value.startswith("./"):
                continue
            seen += 1
            if not re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", value):
                unpinned.append(f"{name}: {value} (not pinned by a full commit SHA)")
            elif not re.search(r"\s#\s*v\d+(\.\d+)*\b", line):
                unpinned.append(f"{name}: {value} (no `# vX.Y.Z` comment naming the release)")
    assert seen, "no remote action found: the test reads no workflow"
    assert not unpinned, unpinned


def setup_steps() -> list[dict]:
    return steps_of(yaml.safe_load(SETUP_ACTION.read_text()))


def go_version() -> str:
    (setup_go,) = [step for step in setup_steps() if step.get("uses", "").startswith("actions/setup-go@")]
    version = str(setup_go["with"]["go-version"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"setup-go's go-version {version!r} is not one exact release"
    return version


def cache_steps() -> list[dict]:
    steps = [step for step in setup_steps() if step.get("uses", "").startswith("actions/cache@")]
    assert steps, f"{SETUP_ACTION.relative_to(ROOT)} caches nothing"
    return steps


def test_cache_keys_name_the_go_release_and_versions_env():
    """Go's caches and the tools built with it are only good for the Go
    release that filled them and the versions it built: a key that does not
    change with either restores stale builds."""
    version = go_version()
    for step in cache_steps():
        key = step["with"]["key"]
        assert version in key, f"cache key {key!r} does not name Go {version}"
        assert "hashFiles('hack/versions.env')" in key, f"cache key {key!r} does not change with hack/versions.env"


def cached_paths() -> set[str]:
    return {path.strip().rstrip("/") for step in cache_steps() for path in step["with"]["path"].splitlines()
            if path.strip()}


def test_go_caches_and_the_built_tools_are_cached():
    env = yaml.safe_load(WORKFLOW.read_text())["env"]
    paths = cached_paths()
    for variable in ("GOMODCACHE", "GOCACHE"):
        assert env[variable] in paths, f"the workflow's {variable} ({env[variable]}) is not cached"
    assert ".tools" in paths, "the tools hack/tools.sh builds into .tools/ are not cached"
