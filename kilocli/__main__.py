from kilocli.cli import main

main()
