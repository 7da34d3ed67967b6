"""Plant known bugs into correct real code and count how many the checker reports.

    python benchmarks/mutations/run.py --clones /work/.mirror --repo owner/name [--repo ...]
        [--operator drop-eval ...] [--max-sites 30] [--auditor "python -m auditor"] [--out FILE]

For each repository (DEV part only: held-out repositories are never mutated), the checkable
files of its HEAD commit are written to a temporary project, checked once, then every site
of every operator is mutated in turn and the whole project checked again (the cache keeps
the other files warm). A mutant is "caught" when a rule the operator names reports more
findings in some file than it did before the mutation. Survivors are where the program model
loses track of real code (or equivalent mutants: a removed call that was redundant). The
output holds facts only (repository, commit, path, line, operator, outcome), never code.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterable, Optional

import libcst as cst

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.mutations.operators import OPERATORS, Operator, find_sites, mutate  # noqa: E402
from benchmarks.realcode.manifest import part_of  # noqa: E402
from benchmarks.realcode.trees import _candidate_dirs, materialise  # noqa: E402

RUN_TIMEOUT_S = 300


def head_of(git_dir: Path) -> Optional[str]:
    proc = subprocess.run(["git", f"--git-dir={git_dir}", "rev-parse", "HEAD"], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def counts(cmd: list, root: Path, rules: Iterable[str]) -> collections.Counter:
    """Findings per (path, rule) of `rules` on the project at `root`."""
    args = [*cmd, "check", "--select", ",".join(sorted(rules)), "--output-format", "json", "--exit-zero", "."]
    env = {**os.environ, "PYTHONSAFEPATH": "1"}
    proc = subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=env)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"auditor exited {proc.returncode} without a report: {proc.stderr.strip()[-200:]}")
    return collections.Counter((f["path"], f["code"]) for f in report.get("findings", []))


def mutants_of(root: Path, operators: list, max_sites: int) -> Iterable[tuple]:
    """(path, operator, line, mutated source, original source) for each site, at most
    `max_sites` per operator in the repository, spread over its files in path order."""
    texts = {}
    for path in sorted(root.rglob("*.py")):
        if ".auditor_cache" in path.parts or ".git" in path.parts:
            continue
        try:
            texts[path] = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
    whole = "\n".join(texts.values())
    for operator in operators:
        if operator.wanted_text and not any(word in whole for word in operator.wanted_text):
            continue
        taken = 0
        for path, text in texts.items():
            if taken >= max_sites:
                break
            if operator.file_may_have_sites is not None and not operator.file_may_have_sites(text):
                continue
            try:
                module = cst.parse_module(text)
            except (cst.ParserSyntaxError, RecursionError, ValueError):
                continue
            for site in find_sites(module, operator):
                if taken >= max_sites:
                    break
                try:
                    code = mutate(module, operator, site)
                except Exception:  # a rewrite libcst refuses: skip the site
                    continue
                taken += 1
                yield path, operator, site.line, code, text


def run_repo(cmd: list, clone_dirs: list, repo: str, operators: list, max_sites: int, log) -> list:
    if part_of(repo) != "dev":
        raise SystemExit(f"{repo} is in the held-out part: it is never mutated")
    git_dir = next(iter(_candidate_dirs(repo, clone_dirs)), None)
    if git_dir is None:
        log(f"{repo}: no local copy")
        return []
    commit = head_of(git_dir)
    results = []
    with tempfile.TemporaryDirectory(prefix="mutations-") as tmp:
        root = Path(tmp) / "tree"
        root.mkdir()
        materialise(git_dir, commit, root)
        subprocess.run(["git", "init", "-q", str(root)], check=True, capture_output=True)
        mutants = list(mutants_of(root, operators, max_sites))
        if not mutants:
            return []  # nothing to plant: the repository is not checked at all
        rules = {rule for op in operators for rule in op.rules}
        try:
            before = counts(cmd, root, rules)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            log(f"{repo}: {exc}")
            return []
        for path, operator, line, code, original in mutants:
            path.write_text(code, encoding="utf-8")
            try:
                after = counts(cmd, root, rules)
                new = sorted(f"{p}:{r}" for (p, r), n in after.items()
                             if r in operator.rules and n > before.get((p, r), 0))
                outcome = "caught" if new else "survived"
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                new, outcome = [str(exc)[:200]], "error"
            finally:
                path.write_text(original, encoding="utf-8")
            rel = path.relative_to(root).as_posix()
            results.append({"repo": repo, "commit": commit, "path": rel, "line": line,
                            "operator": operator.name, "outcome": outcome, "new": new})
            log(f"{outcome:8} {operator.name:22} {repo} {rel}:{line}")
    return results


def summary(results: list) -> str:
    table = collections.defaultdict(collections.Counter)
    repos = collections.defaultdict(set)
    for r in results:
        table[r["operator"]][r["outcome"]] += 1
        repos[r["operator"]].add(r["repo"])
    lines = [f"{'operator':24} {'caught':>7} {'mutants':>8} {'ratio':>6} {'errors':>7} {'repos':>6}"]
    for name in sorted(table):
        c = table[name]
        total = c["caught"] + c["survived"]
        ratio = f"{c['caught'] / total:.2f}" if total else "-"
        lines.append(f"{name:24} {c['caught']:7} {total:8} {ratio:>6} {c['error']:7} {len(repos[name]):6}")
    return "\n".join(lines)


def parse_args(argv: Optional[list]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clones", action="append", type=Path, required=True,
                        help="directory of local copies (owner+name/ or owner+name/repo/); repeatable")
    parser.add_argument("--repo", action="append", default=[], help="owner/name; repeatable")
    parser.add_argument("--repos-file", type=Path, help="a file of owner/name lines")
    parser.add_argument("--operator", action="append", choices=sorted(OPERATORS),
                        help="an operator to apply (default: all); repeatable")
    parser.add_argument("--max-sites", type=int, default=30, help="mutants per operator and repository")
    parser.add_argument("--auditor", default=f"{sys.executable} -m auditor", help="the command to run")
    parser.add_argument("--out", type=Path, help="write one JSON line per mutant here")
    parser.add_argument("--quiet", action="store_true", help="no line per mutant on stderr")
    return parser.parse_args(argv)


def main(argv: Optional[list] = None) -> int:
    args = parse_args(argv)
    repos = list(args.repo)
    if args.repos_file:
        repos += [line.strip() for line in args.repos_file.read_text().splitlines() if line.strip()
                  and not line.startswith("#")]
    if not repos:
        print("mutations: name at least one --repo or --repos-file", file=sys.stderr)
        return 2
    held_out = [repo for repo in repos if part_of(repo) != "dev"]
    if held_out:
        print(f"mutations: {', '.join(held_out)} in the held-out part: never mutated", file=sys.stderr)
        return 2
    operators = [OPERATORS[name] for name in (args.operator or sorted(OPERATORS))]
    log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    cmd = shlex.split(args.auditor)
    results = []
    out = args.out.open("a", encoding="utf-8") if args.out else None
    try:
        for repo in repos:
            for record in run_repo(cmd, args.clones, repo, operators, args.max_sites, log):
                results.append(record)
                if out:
                    out.write(json.dumps(record) + "\n")
                    out.flush()
    finally:
        if out:
            out.close()
    print(summary(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
