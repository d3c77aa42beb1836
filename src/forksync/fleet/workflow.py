"""The control repository's workflow (`forksync init --fleet`): a plan job, per-fork matrix jobs
split like the single-fork workflow (sync without secrets, publish with a token scoped to that
one repository), and a summary job.

GitHub runs at most 256 jobs per matrix, so the workflow holds one sync/publish pair of matrix
jobs per 256 forks of the fleet (``chunks``); `fleet plan --chunks` fills them.
"""

from __future__ import annotations

import math
from importlib import resources

from ..workflow import PINNED, ActionRef
from .plan import MATRIX_LIMIT


def _pinned(name: str, sub: str = "") -> str:
    sha, tag = PINNED[name]
    return f"{name}{sub}@{sha} # {tag}"


def chunks_for(forks: int) -> int:
    return max(1, math.ceil(forks / MATRIX_LIMIT))


def _chunk(i: int, action: ActionRef, fleet_file: str, max_parallel: int) -> str:
    matrix = f"needs.plan.outputs.matrix-{i}"
    return f"""
  sync-{i}:
    needs: plan
    if: ${{{{ {matrix} != '{{"include":[]}}' }}}}
    runs-on: ubuntu-latest
    timeout-minutes: 90
    permissions:
      contents: read
    strategy:
      fail-fast: false                  # one broken fork never stops the others
      max-parallel: {max_parallel}
      matrix: ${{{{ fromJSON({matrix}) }}}}
    steps:
      # Read-only, this one repository: to check out a private fork. No other secret here.
      - id: read-token
        uses: {_pinned("actions/create-github-app-token")}
        with:
          client-id: ${{{{ vars.FORKSYNC_READ_APP_CLIENT_ID }}}}
          private-key: ${{{{ secrets.FORKSYNC_READ_APP_PRIVATE_KEY }}}}
          owner: ${{{{ matrix.owner }}}}
          repositories: ${{{{ matrix.repo }}}}
          permission-contents: read
      - uses: {_pinned("actions/checkout")}
        with:
          path: control
          persist-credentials: false
      - uses: {_pinned("actions/checkout")}
        with:
          repository: ${{{{ matrix.repository }}}}
          token: ${{{{ steps.read-token.outputs.token }}}}
          path: fork
          fetch-depth: 0                # the merge needs history
          persist-credentials: false    # the token is not left in .git/config
      - name: Let bubblewrap make its namespaces (Ubuntu 24.04 restricts unprivileged ones)
        run: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0   # upstream's checks run sandboxed
      - name: Sync and export (pushes nothing)
        uses: {action.uses()}
        with:
          command: export
          repo: fork
          fleet-file: control/{fleet_file}
          fleet-fork: ${{{{ matrix.name }}}}
          export-dir: ${{{{ runner.temp }}}}/forksync-export
      - uses: {_pinned("actions/upload-artifact")}
        with:
          name: forksync-export-${{{{ matrix.name }}}}
          path: ${{{{ runner.temp }}}}/forksync-export
          if-no-files-found: error
          retention-days: 7

  publish-{i}:
    needs: [plan, sync-{i}]
    if: ${{{{ !cancelled() && needs.sync-{i}.result != 'skipped' }}}}
    runs-on: ubuntu-latest
    timeout-minutes: 30
    permissions:
      contents: read
    strategy:
      fail-fast: false
      max-parallel: {max_parallel}
      matrix: ${{{{ fromJSON({matrix}) }}}}
    steps:
      - id: app-token
        uses: {_pinned("actions/create-github-app-token")}
        with:
          client-id: ${{{{ vars.FORKSYNC_APP_CLIENT_ID }}}}
          private-key: ${{{{ secrets.FORKSYNC_APP_PRIVATE_KEY }}}}
          owner: ${{{{ matrix.owner }}}}
          repositories: ${{{{ matrix.repo }}}}   # this fork only
          permission-contents: write
          permission-pull-requests: write
          permission-workflows: write
      - uses: {_pinned("actions/checkout")}
        with:
          path: control
          persist-credentials: false
      - uses: {_pinned("actions/checkout")}
        with:
          repository: ${{{{ matrix.repository }}}}
          token: ${{{{ steps.app-token.outputs.token }}}}
          path: fork
          fetch-depth: 0                # ancestry checks need the fork's history
          persist-credentials: false    # the token reaches git only while pushing
      - id: download
        uses: {_pinned("actions/download-artifact")}
        continue-on-error: true         # no export: the sync job failed before writing one
        with:
          name: forksync-export-${{{{ matrix.name }}}}
          path: ${{{{ runner.temp }}}}/forksync-export
      - id: publish
        if: steps.download.outcome == 'success'
        name: Publish (checks the export, pushes, opens the pull request, notifies)
        uses: {action.uses()}
        with:
          command: publish
          repo: fork
          fleet-file: control/{fleet_file}
          fleet-fork: ${{{{ matrix.name }}}}
          export-dir: ${{{{ runner.temp }}}}/forksync-export
          extras: ""                    # no LLM SDKs where the token is
        env:
          GITHUB_TOKEN: ${{{{ steps.app-token.outputs.token }}}}
          SLACK_WEBHOOK_URL: ${{{{ secrets.SLACK_WEBHOOK_URL }}}}
      - name: Collect the report for the summary
        if: ${{{{ !cancelled() && steps.download.outcome == 'success' }}}}
        env:
          REPORT: ${{{{ steps.publish.outputs.report }}}}
        run: |
          mkdir -p "$RUNNER_TEMP/forksync-report"
          cp "$REPORT" "$RUNNER_TEMP/forksync-report/report.json"
          cp "$RUNNER_TEMP/forksync-fleet/fleet-entry.json" "$RUNNER_TEMP/forksync-report/"
      - if: ${{{{ !cancelled() && steps.download.outcome == 'success' }}}}
        uses: {_pinned("actions/upload-artifact")}
        with:
          name: forksync-report-${{{{ matrix.name }}}}
          path: ${{{{ runner.temp }}}}/forksync-report
          retention-days: 30
"""


def render_fleet_workflow(
    action: ActionRef, forks: int, max_parallel: int, fleet_file: str = "fleet.toml"
) -> str:
    """The control workflow for a fleet of ``forks`` forks."""
    n = chunks_for(forks)
    text = resources.files("forksync").joinpath("templates", "fleet-workflow.yml").read_text(encoding="utf-8")
    note = (
        f"{n} matrix job pair(s) of up to {MATRIX_LIMIT} forks each, for {forks} fork(s): run "
        "`forksync init --fleet --force` again when the fleet outgrows them."
    )
    sha, tag = PINNED["actions/cache"]
    for marker, value in (
        ("@@CHUNK_NOTE@@", note),
        (
            "@@PLAN_OUTPUTS@@",
            "\n".join(f"      matrix-{i}: ${{{{ steps.plan.outputs.matrix-{i} }}}}" for i in range(n)),
        ),
        ("@@CHUNK_JOBS@@", "".join(_chunk(i, action, fleet_file, max_parallel) for i in range(n))),
        ("@@PUBLISH_NEEDS@@", ", ".join(f"publish-{i}" for i in range(n))),
        ("@@CHUNKS@@", str(n)),
        ("@@CHECKOUT@@", _pinned("actions/checkout")),
        ("@@CACHE_RESTORE@@", f"actions/cache/restore@{sha} # {tag}"),
        ("@@CACHE_SAVE@@", f"actions/cache/save@{sha} # {tag}"),
        ("@@UPLOAD@@", _pinned("actions/upload-artifact")),
        ("@@DOWNLOAD@@", _pinned("actions/download-artifact")),
        ("@@APP_TOKEN@@", _pinned("actions/create-github-app-token")),
        ("@@ACTION_REPO@@", action.repo),
        ("@@ACTION_REF@@", action.ref),
        ("@@FLEET_FILE@@", fleet_file),
    ):
        text = text.replace(marker, value)
    return text


def render_gitlab_parent(action: ActionRef, fleet_file: str = "fleet.toml") -> str:
    """The control repository's `.gitlab-ci.yml` (its plan job writes the child pipeline)."""
    text = resources.files("forksync").joinpath("templates", "gitlab-fleet.yml").read_text(encoding="utf-8")
    for marker, value in (
        ("@@ACTION_REPO@@", action.repo),
        ("@@ACTION_REF@@", action.ref),
        ("@@FLEET_FILE@@", fleet_file),
    ):
        text = text.replace(marker, value)
    return text
