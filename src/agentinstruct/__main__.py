"""`python -m agentinstruct ...`: the `agentinstruct` command, for where console scripts are not on PATH."""

from agentinstruct.cli import main

if __name__ == "__main__":
    main()
