"""Conveyor's benchmark: one command (`python -m bench`) that measures and prints a table.

Layout: `run.py` is the orchestrator (plan, runs, medians, table); `plan.py` names the workloads,
their sizes and targets; `measure.py` runs one measurement in a fresh subprocess and prints JSON;
`systems/<name>.py` is one system's side of every workload (Conveyor now, peers later, each
runnable with its own interpreter); `stores.py` hands out fresh SQLite files and PostgreSQL
databases; `report.py` renders the Rich table and the Markdown file.
"""
