"""Many forks from one control repository (`fleet.toml`): plan which are due, let CI run one
fork per job, aggregate the reports (job summary, a dashboard issue per fork, an HTML page).

forksync schedules nothing itself: GitHub Actions or GitLab CI run the jobs.
"""
