"""Post-run analysis of SEI monitor H5MD files: `seimd analyze` and `seimd plot`.

laws.py    growth laws (a + b ln t, a t^n, a t^1/2) fitted and compared by AIC
stages.py  crystalline onset and exponent, the four stages of SEI formation
runs.py    reading monitor files and grouping them by temperature/pressure/model/seed
report.py  the terminal table, JSON and CSV
plot.py    figures (matplotlib, Agg)
cli.py     the argparse glue
"""
