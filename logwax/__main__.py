from logwax.cli import main

raise SystemExit(main())
