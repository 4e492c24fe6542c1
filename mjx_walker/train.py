from mjx_walker.training import main

if __name__ == "__main__":
    main()
