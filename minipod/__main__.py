from minipod.cli.entry import main

main()
