from coursetools.cli import main

main()
