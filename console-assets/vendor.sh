#!/bin/sh
# Copy the browser files the app serves from node_modules (after `npm ci`) into DEST:
#   sh console-assets/vendor.sh vpp/console/static/vendor
# Used by `make console-assets` and by the Dockerfile's assets stage, so both ship the same list.
# Each package's licence goes beside its files (Apache-2.0 packages with their NOTICE, and the
# bundles' third-party notices under the names their first line points to).
set -eu
dest=${1:?usage: vendor.sh DEST}
nm="$(cd "$(dirname "$0")" && pwd)/node_modules"
mkdir -p "$dest"
copy() { cp "$nm/$1" "$dest/$2"; }

copy htmx.org/dist/htmx.min.js htmx.min.js
copy htmx.org/LICENSE LICENSE.htmx

copy echarts/dist/echarts.min.js echarts.min.js
copy echarts/LICENSE LICENSE.echarts
copy echarts/NOTICE NOTICE.echarts
copy echarts/licenses/LICENSE-d3 LICENSE.echarts-d3

copy swagger-ui-dist/swagger-ui-bundle.js swagger-ui-bundle.js
copy swagger-ui-dist/swagger-ui.css swagger-ui.css
copy swagger-ui-dist/LICENSE LICENSE.swagger-ui
copy swagger-ui-dist/NOTICE NOTICE.swagger-ui
copy swagger-ui-dist/swagger-ui-bundle.js.LICENSE.txt swagger-ui-bundle.js.LICENSE.txt

copy redoc/bundles/redoc.standalone.js redoc.standalone.js
copy redoc/LICENSE LICENSE.redoc
copy redoc/bundles/redoc.standalone.js.LICENSE.txt redoc.standalone.js.LICENSE.txt
