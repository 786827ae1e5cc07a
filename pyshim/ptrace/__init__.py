"""The second way in, for statically linked programs: ptrace and a seccomp
filter that stops the subscribed calls only (run.py is the entry point)."""
