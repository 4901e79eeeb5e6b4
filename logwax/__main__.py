from logwax.app.cli import main

raise SystemExit(main())
