"""fastsel's benchmark: `python -m bench [--quick] [--wrk] [--only micro|servers|wrk] [--out DIR]`.

wrk          end to end: each server alone in its own process under wrk (the headline)
wrk_servers  the servers it runs, one per process; wrk_report: their tables and plot
runner       interleaved rounds and paired ratios
micro        one selector operation at a time, against the stdlib, raw epoll and the C floor
floor        builds and drives floor.c, the kernel calls alone
loops        the in-process server variants (a registry); servers: their in-process harness
report       JSON, Markdown, plots (tables: shared helpers); machine records what it ran on
"""
