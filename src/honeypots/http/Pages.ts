/**
 * Response bodies an attacker sees: the fake application pages selected by `fake_app` (Apache's own
 * error pages are in Apache.ts).
 */
import { Array as Arr } from "effect"

export const FAKE_APPS = [
  "none",
  "apache_default",
  "nginx_default",
  "wordpress",
  "phpmyadmin",
  "iis_default",
  "tomcat",
  "jenkins"
] as const
export type FakeApp = (typeof FAKE_APPS)[number]

/** The Apache of Debian's apache2 package (bookworm, 2.4.71-1~deb12u1): the default persona. */
export const DEFAULT_SERVER_HEADER = "Apache/2.4.71 (Debian)"

export const SERVER_HEADERS = [
  "Apache/2.4.41 (Ubuntu)",
  "Apache/2.4.52 (Ubuntu)",
  "Apache/2.4.54 (Debian)",
  "Apache/2.4.56 (Debian)",
  "Apache/2.4.57 (Debian)",
  "Apache/2.4.58 (Ubuntu)",
  "Apache/2.4.59 (Debian)",
  "nginx/1.18.0 (Ubuntu)",
  "nginx/1.22.1",
  "nginx/1.24.0 (Ubuntu)",
  "nginx/1.25.3"
] as const

const escapeHtml = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c
  )

const apacheDefault = (
  os: string
): string => `<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
  <head>
    <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
    <title>Apache2 ${os} Default Page: It works</title>
    <style type="text/css" media="screen">
  body, html { padding: 3px 3px 3px 3px; background-color: #D8DBE2; font-family: Ubuntu, Verdana, sans-serif; font-size: 11pt; text-align: center; }
  div.main_page { position: relative; display: table; width: 800px; margin-bottom: 3px; margin-left: auto; margin-right: auto; padding: 0px 0px 0px 0px; border-width: 2px; border-color: #212738; border-style: solid; background-color: #FFFFFF; text-align: center; }
    </style>
  </head>
  <body>
    <div class="main_page">
      <div class="page_header floating_element">
        <span class="floating_element">Apache2 ${os} Default Page</span>
      </div>
      <div class="content_section floating_element">
        <div class="section_header section_header_red">
          <div id="about"></div>
          It works!
        </div>
        <div class="content_section_text">
          <p>
                This is the default welcome page used to test the correct
                operation of the Apache2 server after installation on ${os} systems.
                If you can read this page, it means that the Apache HTTP server installed at
                this site is working properly. You should <b>replace this file</b> (located at
                <tt>/var/www/html/index.html</tt>) before continuing to operate your HTTP server.
          </p>
        </div>
        <div class="section_header">
          <div id="docroot"></div>
                Document Roots
        </div>
        <div class="content_section_text">
          <p>
                By default, ${os} does not allow access through the web browser to
                <em>any</em> file apart of those located in <tt>/var/www</tt>,
                <a href="http://httpd.apache.org/docs/2.4/mod/mod_userdir.html" rel="nofollow">public_html</a>
                directories (when enabled) and <tt>/usr/share</tt> (for web
                applications).
          </p>
        </div>
      </div>
    </div>
    <div class="validator">
    </div>
  </body>
</html>
`

const NGINX_DEFAULT = `<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
`

const wordpress = (host: string): string => `<!DOCTYPE html>
<html lang="en-US">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<title>Log In &lsaquo; ${escapeHtml(host)} &#8212; WordPress</title>
<meta name='robots' content='max-image-preview:large, noindex, noarchive' />
<link rel='stylesheet' id='login-css' href='/wp-admin/css/login.min.css?ver=6.4.3' media='all' />
<meta name="referrer" content="strict-origin-when-cross-origin" />
<meta name="viewport" content="width=device-width" />
</head>
<body class="login no-js login-action-login wp-core-ui  locale-en-us">
<div id="login">
<h1><a href="https://wordpress.org/">Powered by WordPress</a></h1>
<form name="loginform" id="loginform" action="/wp-login.php" method="post">
<p>
<label for="user_login">Username or Email Address</label>
<input type="text" name="log" id="user_login" class="input" value="" size="20" autocapitalize="off" autocomplete="username" required="required" />
</p>
<div class="user-pass-wrap">
<label for="user_pass">Password</label>
<div class="wp-pwd">
<input type="password" name="pwd" id="user_pass" class="input password-input" value="" size="20" autocomplete="current-password" spellcheck="false" required="required" />
</div>
</div>
<p class="forgetmenot"><input name="rememberme" type="checkbox" id="rememberme" value="forever"  /> <label for="rememberme">Remember Me</label></p>
<p class="submit">
<input type="submit" name="wp-submit" id="wp-submit" class="button button-primary button-large" value="Log In" />
<input type="hidden" name="redirect_to" value="/wp-admin/" />
<input type="hidden" name="testcookie" value="1" />
</p>
</form>
<p id="nav"><a href="/wp-login.php?action=lostpassword">Lost your password?</a></p>
<p id="backtoblog"><a href="/">&larr; Go to ${escapeHtml(host)}</a></p>
</div>
</body>
</html>
`

const PHPMYADMIN = `<!DOCTYPE HTML>
<html lang="en" dir="ltr">
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex,nofollow">
<meta http-equiv="X-UA-Compatible" content="IE=Edge">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="favicon.ico" type="image/x-icon">
<link rel="stylesheet" type="text/css" href="./themes/pmahomme/jquery/jquery-ui.css">
<link rel="stylesheet" type="text/css" href="./themes/pmahomme/css/theme.css?v=5.2.1">
<title>phpMyAdmin</title>
</head>
<body id="loginform">
<div class="container">
<a href="./url.php?url=https%3A%2F%2Fwww.phpmyadmin.net%2F" target="_blank" rel="noopener noreferrer" class="logo">
<img src="./themes/pmahomme/img/logo_right.png" id="imLogo" name="imLogo" alt="phpMyAdmin" border="0"></a>
<h1>Welcome to <bdo dir="ltr" lang="en">phpMyAdmin</bdo></h1>
<noscript><div class="alert alert-danger" role="alert">Javascript must be enabled past this point!</div></noscript>
<div class="card mb-4">
<form method="post" id="login_form" action="index.php?route=/" name="login_form" class="disableAjax hide js-show">
<fieldset class="card-body">
<legend class="visually-hidden">Log in</legend>
<div class="form-group"><label for="input_username">Username:</label>
<input type="text" name="pma_username" id="input_username" value="" class="form-control" autocomplete="username" spellcheck="false" autofocus></div>
<div class="form-group"><label for="input_password">Password:</label>
<input type="password" name="pma_password" id="input_password" value="" class="form-control" autocomplete="current-password" spellcheck="false"></div>
<input type="hidden" name="server" value="1">
</fieldset>
<div class="card-footer"><input class="btn btn-primary" value="Log in" type="submit" id="input_go"></div>
<input type="hidden" name="route" value="/"><input type="hidden" name="lang" value="en"><input type="hidden" name="token" value="52573c3a7b4d3f2b6e2c71374c7b2a53">
</form>
</div>
</div>
</body>
</html>
`

const IIS_DEFAULT = `<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1" />
<title>IIS Windows Server</title>
<style type="text/css">
<!--
body {
	color:#000000;
	background-color:#0072C6;
	margin:0;
}

#container {
	margin-left:auto;
	margin-right:auto;
	text-align:center;
	}

a img {
	border:none;
}

-->
</style>
</head>
<body>
<div id="container">
<a href="http://go.microsoft.com/fwlink/?linkid=66138&amp;clcid=0x409"><img src="iisstart.png" alt="IIS" width="960" height="600" /></a>
</div>
</body>
</html>`

const TOMCAT = `<!DOCTYPE html>
<html lang="en">
    <head>
        <meta charset="UTF-8" />
        <title>Apache Tomcat/9.0.83</title>
        <link href="favicon.ico" rel="icon" type="image/x-icon" />
        <link href="tomcat.css" rel="stylesheet" type="text/css" />
    </head>

    <body>
        <div id="wrapper">
            <div id="navigation" class="curved container">
                <span id="nav-home"><a href="https://tomcat.apache.org/">Home</a></span>
                <span id="nav-hosts"><a href="/docs/">Documentation</a></span>
                <span id="nav-config"><a href="/docs/config/">Configuration</a></span>
                <span id="nav-examples"><a href="/examples/">Examples</a></span>
                <span id="nav-wiki"><a href="https://cwiki.apache.org/confluence/display/TOMCAT/">Wiki</a></span>
                <span id="nav-lists"><a href="https://tomcat.apache.org/lists.html">Mailing Lists</a></span>
                <span id="nav-help"><a href="https://tomcat.apache.org/findhelp.html">Find Help</a></span>
                <br class="separator" />
            </div>
            <div id="asf-box">
                <h1>Apache Tomcat/9.0.83</h1>
            </div>
            <div id="upper" class="curved container">
                <div id="congrats" class="curved container">
                    <h2>If you're seeing this, you've successfully installed Tomcat. Congratulations!</h2>
                </div>
                <div id="notice">
                    <img id="tomcat-logo" src="tomcat.svg" alt="[tomcat logo]" />
                    <div id="tasks">
                        <h3>Recommended Reading:</h3>
                        <h4><a href="/docs/security-howto.html">Security Considerations How-To</a></h4>
                        <h4><a href="/docs/manager-howto.html">Manager Application How-To</a></h4>
                        <h4><a href="/docs/cluster-howto.html">Clustering/Session Replication How-To</a></h4>
                    </div>
                </div>
                <div id="actions">
                    <div class="button">
                        <a class="container shadow" href="/manager/status"><span>Server Status</span></a>
                    </div>
                    <div class="button">
                        <a class="container shadow" href="/manager/html"><span>Manager App</span></a>
                    </div>
                    <div class="button">
                        <a class="container shadow" href="/host-manager/html"><span>Host Manager</span></a>
                    </div>
                </div>
            </div>
            <p class="copyright">Copyright &copy;1999-2023 Apache Software Foundation. All Rights Reserved</p>
        </div>
    </body>
</html>
`

const JENKINS = `<!DOCTYPE html><html lang="en-US"><head resURL="/static/5a1b7c2e" data-rooturl="" data-resurl="/static/5a1b7c2e" data-imagesurl="/static/5a1b7c2e/images"><title>Sign in [Jenkins]</title><meta name="ROBOTS" content="NOFOLLOW"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/static/5a1b7c2e/jsbundles/styles.css" type="text/css"><link rel="shortcut icon" href="/static/5a1b7c2e/favicon.ico" type="image/vnd.microsoft.icon"><link color="#191717" rel="mask-icon" href="/images/mask-icon.svg"><meta name="theme-color" content="#ffffff"></head><body><div class="app-sign-in-register"><div class="app-sign-in-register__branding"><img src="/static/5a1b7c2e/images/svgs/logo.svg" alt="Jenkins logo"></div><div class="app-sign-in-register__content"><div class="app-sign-in-register__content-inner"><h1>Sign in to Jenkins</h1><form method="post" name="login" action="j_spring_security_check"><div class="jenkins-form-item"><label class="jenkins-form-label" for="j_username">Username</label><input autocorrect="off" autocomplete="username" name="j_username" id="j_username" type="text" autofocus="autofocus" class="jenkins-input" autocapitalize="off"></div><div class="jenkins-form-item"><label class="jenkins-form-label" for="j_password">Password</label><input name="j_password" id="j_password" type="password" class="jenkins-input" autocomplete="current-password"></div><div class="jenkins-checkbox"><input type="checkbox" id="remember_me" name="remember_me"><label for="remember_me">Keep me signed in</label></div><input name="from" type="hidden"><div class="jenkins-form-item jenkins-!-margin-bottom-0"><button type="submit" name="Submit" class="jenkins-button jenkins-button--primary">Sign in</button></div></form></div></div></div></body></html>`

/** The body of a fake application page, or `undefined` for `none`. */
export const fakeAppPage = (app: FakeApp, serverHeader: string, host: string): string | undefined => {
  switch (app) {
    case "none":
      return undefined
    case "apache_default":
      return apacheDefault(serverHeader.includes("Debian") ? "Debian" : "Ubuntu")
    case "nginx_default":
      return NGINX_DEFAULT
    case "wordpress":
      return wordpress(host)
    case "phpmyadmin":
      return PHPMYADMIN
    case "iis_default":
      return IIS_DEFAULT
    case "tomcat":
      return TOMCAT
    case "jenkins":
      return JENKINS
  }
}

/** A Server header consistent with the fake app when the operator set none. */
export const serverHeaderCandidates = (app: FakeApp): readonly [string, ...Array<string>] => {
  const family = (prefix: string) => {
    const hits = SERVER_HEADERS.filter((h) => h.startsWith(prefix))
    return Arr.isNonEmptyReadonlyArray(hits) ? hits : SERVER_HEADERS
  }
  switch (app) {
    case "apache_default":
      return family("Apache")
    case "nginx_default":
      return family("nginx")
    case "iis_default":
      return ["Microsoft-IIS/10.0"]
    default:
      return SERVER_HEADERS
  }
}
