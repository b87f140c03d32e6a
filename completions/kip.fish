complete --keep-order --exclusive --command kip --arguments "(COMPLETE=fish kip -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
