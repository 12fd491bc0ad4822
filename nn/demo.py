"""``python -m nn.demo``, the command users know. The demo is an application built on nn,
so it lives in ``apps.demo``; this module only runs it."""
import runpy

if __name__ == "__main__":
    runpy.run_module("apps.demo", run_name="__main__", alter_sys=True)
