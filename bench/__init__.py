"""fastsel's benchmark: `python -m bench [--quick] [--only micro|servers] [--out DIR]`.

runner   interleaved rounds and paired ratios
micro    one selector operation at a time, against the stdlib, raw epoll and the C floor
floor    builds and drives floor.c, the kernel calls alone
loops    the server variants (a registry); servers: the in-process harness and --wrk
report   JSON, Markdown, plots; machine records what it ran on
"""
