/**
 * The HTML shells of the console and the customer pages: a title, the shared style and
 * one script module that draws the page from the public API. No template data is
 * interpolated (the scripts read ids from the URL), so nothing here needs escaping.
 */
interface Shell {
  title: string;
  /** The script module under /assets that draws the page. */
  script: string;
  /** The console's navigation, for the console pages. */
  nav?: boolean;
}

const CONSOLE_NAV = `<nav aria-label="Console">
    <a href="/console">Payments</a>
    <a href="/console/attention">Needs attention</a>
    <a href="/console/figures">Live figures</a>
    <a href="/console/settlements">Settlements</a>
    <a href="/console/events">Events</a>
    <a href="/docs">API reference</a>
  </nav>`;

function shell({ title, script, nav = false }: Shell): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${title} · Paystate</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/assets/style.css">
  <script type="module" src="/assets/${script}"></script>
</head>
<body>
<header>
  <strong>Paystate</strong> <span>${title}</span>
  ${nav ? CONSOLE_NAV : ''}
</header>
<main id="main" tabindex="-1"><p>Loading…</p></main>
</body>
</html>
`;
}

export const PAGES = {
  consolePayments: shell({ title: 'Payments', script: 'console-payments.js', nav: true }),
  consolePayment: shell({ title: 'Payment', script: 'console-payment.js', nav: true }),
  consoleAttention: shell({ title: 'Needs attention', script: 'console-attention.js', nav: true }),
  consoleFigures: shell({ title: 'Live figures', script: 'console-figures.js', nav: true }),
  consoleSettlements: shell({ title: 'Settlements', script: 'console-settlements.js', nav: true }),
  consoleEvents: shell({ title: 'Payment events', script: 'console-events.js', nav: true }),
  checkout: shell({ title: 'Checkout', script: 'checkout.js' }),
  myPage: shell({ title: 'My payments', script: 'mypage.js' }),
};
