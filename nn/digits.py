"""``python -m nn.digits``, the command users know. The digits is an application built on nn,
so it lives in ``apps.digits``; this module only runs it."""
import runpy

if __name__ == "__main__":
    runpy.run_module("apps.digits", run_name="__main__", alter_sys=True)
