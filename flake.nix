{
  description = "DECNET: a honeypot deception network (TypeScript on Effect)";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";
    flake-utils.url = "github:numtide/flake-utils";
  };

  outputs = { self, nixpkgs, flake-utils }:
    flake-utils.lib.eachDefaultSystem (system:
      let
        pkgs = import nixpkgs { inherit system; };
        nodejs = pkgs.nodejs_20;
      in {
        # `nix develop`: Node 20 plus what better-sqlite3's node-gyp build needs.
        devShells.default = pkgs.mkShell {
          packages = [ nodejs pkgs.python3 pkgs.gnumake pkgs.gcc pkgs.pkg-config pkgs.sqlite ];
        };

        # `nix build`: compiles src/ to dist/ and installs bin/decnet.
        packages.default = pkgs.buildNpmPackage {
          pname = "decnet";
          version = "0.2.0";
          src = ./.;
          inherit nodejs;
          # Refresh after changing dependencies: run `nix build` once and copy the hash it reports.
          npmDepsHash = pkgs.lib.fakeHash;
          nativeBuildInputs = [ pkgs.python3 pkgs.gnumake pkgs.gcc ];
          npmBuildScript = "build";
          meta.mainProgram = "decnet";
        };

        apps.default = flake-utils.lib.mkApp { drv = self.packages.${system}.default; };
      });
}
